"""The whole valid configuration, with lookups and send-slot expansion."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from bot.config.models import TOKYO, Delivery, KpiTargets, Municipality, Question
from bot.config.programs import Campaign, Program, SendSlot


class PlannedSlot(NamedTuple):
    """A campaign's send slot expanded to a concrete moment (aware, Asia/Tokyo)."""

    at: dt.datetime
    slot: SendSlot

    @property
    def is_reminder(self) -> bool:
        """True for `before_close` slots, which remind residents told before."""
        return self.slot.is_reminder


class Config(BaseModel):
    """A checked configuration: build it with `bot.config.load_config`."""

    model_config = ConfigDict(frozen=True)

    municipality: Municipality
    delivery: Delivery
    kpi: KpiTargets
    programs: tuple[Program, ...]
    campaigns: tuple[Campaign, ...]
    questions: dict[str, Question] = {}

    def program(self, program_id: str) -> Program:
        """The program with this id; KeyError if there is none."""
        for program in self.programs:
            if program.id == program_id:
                return program
        raise KeyError(program_id)

    def campaign(self, campaign_id: str) -> Campaign:
        """The campaign with this id; KeyError if there is none."""
        for campaign in self.campaigns:
            if campaign.id == campaign_id:
                return campaign
        raise KeyError(campaign_id)

    def find_program(self, program_id: str) -> Program | None:
        """The program with this id, or None (e.g. removed since a notice went out)."""
        return next((p for p in self.programs if p.id == program_id), None)

    def find_campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id, or None."""
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    def campaigns_for(self, program_id: str) -> tuple[Campaign, ...]:
        """The campaigns that announce this program."""
        return tuple(c for c in self.campaigns if c.program == program_id)

    def planned_slots(self, campaign: Campaign) -> list[PlannedSlot]:
        """Every slot of `campaign` at its concrete moment, earliest first."""
        program = self.program(campaign.program)
        planned = [
            PlannedSlot(slot_moment(slot, program, self.delivery), slot) for slot in campaign.send
        ]
        return sorted(planned, key=lambda p: p.at)

    def slot_times(self, campaign: Campaign) -> list[dt.datetime]:
        """The distinct moments `campaign` sends at, earliest first (aware, Asia/Tokyo)."""
        return sorted({p.at for p in self.planned_slots(campaign)})


def slot_moment(slot: SendSlot, program: Program, delivery: Delivery) -> dt.datetime:
    """When `slot` fires: relative slots at send_time, then moved inside the window."""
    if slot.at is not None:
        moment = slot.at
    else:
        if slot.before_close is not None:
            day = program.period.closes - dt.timedelta(days=slot.before_close)
        else:
            day = program.period.opens + dt.timedelta(days=slot.after_open or 0)
        moment = dt.datetime.combine(day, delivery.send_time, tzinfo=TOKYO)
    return delivery.window.next_inside(moment)
