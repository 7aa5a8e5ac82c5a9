"""The contract suite exercises every method of every storage interface.

A method added to a Protocol in ``storage.base`` without a contract test fails here.
"""

import inspect
from pathlib import Path

from storage import base

INTERFACES = [
    base.ConversationStore,
    base.IntakeStore,
    base.AdapterStateStore,
    base.ThreadStore,
    base.RunStore,
    base.RunStepStore,
    base.ToolCallStore,
    base.ResponseChainStore,
    base.RetentionStore,
]


def _methods(protocol: type) -> set[str]:
    return {
        name
        for name, member in vars(protocol).items()
        if inspect.iscoroutinefunction(member) and not name.startswith("_")
    }


def test_storage_is_every_interface_plus_open_and_close() -> None:
    every = set().union(*(_methods(p) for p in INTERFACES))
    assert all(p in base.Storage.__mro__ for p in INTERFACES)
    assert _methods(base.Storage) == {"open", "close"}
    assert not set.intersection(*(_methods(p) for p in INTERFACES))  # each method in one place
    assert len(every) == sum(len(_methods(p)) for p in INTERFACES)


def test_every_interface_method_is_called_by_a_contract_test() -> None:
    here = Path(__file__).parent
    sources = "".join(
        p.read_text(encoding="utf-8")
        for p in here.glob("test_*.py")
        if p.name != Path(__file__).name
    )
    for protocol in INTERFACES:
        for name in _methods(protocol):
            assert f"store.{name}(" in sources, f"{protocol.__name__}.{name} is not exercised"
