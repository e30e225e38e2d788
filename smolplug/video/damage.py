"""Damage seen in one decoding run, in decode order: which frames it reaches.

See :mod:`smolplug.video.decode` for how runs feed it (errors raised when packets are sent,
frames flagged by the decoder, damaged packets flagged by the demuxer) and how keyframes end it.
"""

from __future__ import annotations


class DamageLog:
    """Damage seen in one run, in decode order: errors and the clean closed keyframes after them."""

    def __init__(self) -> None:
        self.errors: list[tuple[int, str]] = []
        self.keys: list[tuple[int, int, bool]] = []  #: (decode index, position, closed)

    def error(self, dec: int, why: str, upto: int | None = None) -> None:
        """Damage from packet ``dec`` on (it may be any packet in ``dec..upto``: none of those
        keyframes is clean)."""
        self.errors.append((dec, why))
        if upto is not None:
            self.keys = [k for k in self.keys if not dec <= k[0] <= upto]

    def keyframe(self, dec: int, pos: int, ends: str) -> None:
        """A keyframe packet ends earlier damage: for every frame decoded after it (``ends ==
        "decoded"``, a closed GOP), or for those also shown at or after it (``"shown"``: an open
        GOP of a codec whose B-frames are never references), or not at all (``""``)."""
        if ends:
            self.keys.append((dec, pos, ends == "decoded"))

    def reason(self, dec: int | None, pos: int = -1) -> str:
        """Why a frame shown at ``pos`` whose packet has decode index ``dec`` is damaged ("" when
        it is not). Unknown ``dec``: damaged if anything went wrong in the run (conservative)."""
        if not self.errors:
            return ""
        if dec is None:
            return self.errors[-1][1]
        bad = {e for e, _ in self.errors}
        for e, why in sorted(self.errors, reverse=True):
            if e > dec:
                continue
            if any(e < k <= dec and k not in bad and (closed or pos >= kp) for k, kp, closed in self.keys):
                return ""  # a clean keyframe since: nothing before it is referenced
            return why if e == dec else f"decoded from a damaged frame ({why})"
        return ""
