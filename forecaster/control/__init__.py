"""The control plane: push recommendations to the gateways, like ``terraform plan`` / ``apply``.

``plan`` reads each configured target's live state and diffs it against the recommendations;
``apply`` (dry run by default) checks the guardrails again against the live state, writes, reads
back, and undoes its own changes when one fails; ``rollback`` restores recorded before-states.
Every call is an ``actions`` row (``forecaster.store.actions``). Adapters: ``control.adapters``.
"""

from .apply import ApplyResult, apply
from .plan import Change, Plan, plan
from .rollback import RollbackResult, rollback

__all__ = ["ApplyResult", "Change", "Plan", "RollbackResult", "apply", "plan", "rollback"]
