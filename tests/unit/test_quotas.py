"""The new-conversation quota: a sliding hour per user, on an injected clock."""

from core.quotas import HOUR, NewConversations


def test_a_user_gets_their_quota_per_sliding_hour() -> None:
    now = [0.0]
    quota = NewConversations(2, clock=lambda: now[0])
    assert quota.allow("a") and quota.allow("a")
    assert not quota.allow("a")
    assert quota.allow("b")  # per user
    now[0] = HOUR - 1
    assert not quota.allow("a")
    now[0] = HOUR + 0.5  # the first two left the window
    assert quota.allow("a") and quota.allow("a") and not quota.allow("a")


def test_zero_means_no_limit() -> None:
    quota = NewConversations(0, clock=lambda: 0.0)
    assert all(quota.allow("a") for _ in range(1000))
