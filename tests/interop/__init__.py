"""The interop suite: Threadbridge's console against a real model server (``make interop``).

Not part of ``make test``: pytest's default options ignore this folder. ``tests/interop/run.py``
starts llama-cpp-python's server with SmolLM2-135M-Instruct and runs it.
"""
