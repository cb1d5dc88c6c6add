"""The demo company: every generator on one shared event log, built in a fixed order."""

from datetime import date, timedelta

from billing.demo.master_data import MasterData
from billing.demo.problems import Problems
from billing.demo.settlements import Settlements
from billing.demo.subscriptions import Subscriptions


class DemoCompany(MasterData, Subscriptions, Settlements, Problems):
    """Generates the demo's canonical events, in time order, from one seeded Random.

    The order of the steps is part of the demo: each draws from the same Random.
    """

    def build(self) -> list[dict]:
        self.build_partners()
        self.build_customers()
        self.build_subscriptions()
        self.build_settlements()
        return self.ordered_bodies()


def closed_through_for(anchor: date) -> date:
    """DE01's books are closed through the end of the month before last."""
    closed_through = anchor.replace(day=1) - timedelta(days=1)
    return closed_through.replace(day=1) - timedelta(days=1)
