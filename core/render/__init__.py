"""Streaming reply rendering: split long texts at safe points and throttle in-place edits.

``StreamRenderer`` turns model deltas into post/edit/finish calls on a ReplyPort;
``split_message``/``split_all`` are the pure splitting helpers it uses.
"""

from core.render.split import split_all, split_message

__all__ = ["split_all", "split_message"]
