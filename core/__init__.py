"""Platform-free core of Threadbridge: settings, conversation keys, run engine, backends,
streaming renderer and tool registry. Nothing here imports slack or discord."""
