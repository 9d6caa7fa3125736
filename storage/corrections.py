"""Editor corrections (they outlive any re-clustering) and the audit log of who did what."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from storage.base import Repo
from storage.models import AuditLogRow, CorrectionRow


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    kind: str
    payload: Mapping[str, Any]
    actor: str
    note: str
    created_at: datetime


def _correction(row: CorrectionRow) -> Correction:
    return Correction(row.id, row.kind, dict(row.payload), row.actor, row.note, row.created_at)


class CorrectionRepo(Repo):
    def add_correction(
        self, kind: str, payload: Mapping[str, Any], *, actor: str, note: str, now: datetime
    ) -> int:
        with self.session() as session:
            row = CorrectionRow(
                kind=kind,
                payload=dict(payload),
                actor=actor,
                note=note,
                created_at=now,
                revoked=False,
            )
            session.add(row)
            session.flush()
            session.add(
                AuditLogRow(
                    at=now,
                    actor=actor,
                    action=f"cluster.{kind}",
                    target=str(row.id),
                    detail={"payload": dict(payload), "note": note},
                )
            )
            return row.id

    def corrections(self) -> list[Correction]:
        with self.session(write=False) as session:
            rows = session.scalars(
                select(CorrectionRow).where(~CorrectionRow.revoked).order_by(CorrectionRow.id)
            )
            return [_correction(r) for r in rows]

    def audit(self, *, limit: int = 100) -> list[dict[str, Any]]:
        with self.session(write=False) as session:
            rows = session.scalars(select(AuditLogRow).order_by(AuditLogRow.id.desc()).limit(limit))
            return [
                {
                    "at": r.at,
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "detail": dict(r.detail),
                }
                for r in rows
            ]

    def corrections_after(self, correction_id: int) -> list[Correction]:
        """Corrections made after ``correction_id``, oldest first."""
        with self.session(write=False) as session:
            rows = session.scalars(
                select(CorrectionRow)
                .where(CorrectionRow.id > correction_id, ~CorrectionRow.revoked)
                .order_by(CorrectionRow.id)
            )
            return [_correction(r) for r in rows]

    def update_payload(self, correction_id: int, payload: Mapping[str, Any]) -> None:
        """Store a correction completed by the engine (e.g. with what a split moved away)."""
        with self.session() as session:
            session.execute(
                update(CorrectionRow)
                .where(CorrectionRow.id == correction_id)
                .values(payload=dict(payload))
            )
