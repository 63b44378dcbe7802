"""``route53_weights``: the weights of a weighted record set, one record per region.

Reads ``ListResourceRecordSets`` from the record's name; writes one ``ChangeResourceRecordSets``
batch of UPSERTs, each the record as it is with only ``Weight`` changed (Route 53 applies a batch
atomically: all weights move together or none).
"""

from __future__ import annotations

from ..aws import call
from ..errors import ControlError, InvalidChange, TargetNotFound
from .base import Adapter, register

KEY = "weights"


def _name(n: str) -> str:
    return n.rstrip(".").lower() + "."


@register
class Route53Weights(Adapter):
    name = "route53_weights"
    handles = ("route",)

    def matches(self, target, rec) -> bool:
        # region weights only: a model-routing record (``model_weights``) is the AI gateway's to apply
        return super().matches(target, rec) and "weights" in rec["params"]

    def label(self, target) -> str:
        return f"route53 {target.zone_id} {target.record}"

    def key(self, target, rec) -> str:
        return KEY

    def desired(self, target, rec, settings) -> dict:
        weights = {str(r): int(w) for r, w in (rec["params"].get("weights") or {}).items()}
        unknown = sorted(set(weights) - set(target.set_ids or {}))
        if unknown:
            raise InvalidChange(f"route recommendation {rec['id']}: no set_ids entry for region(s) "
                                f"{', '.join(unknown)} in the route53_weights target of api {target.api!r} "
                                f"(configured: {', '.join(sorted(target.set_ids or {}))})")
        return {"weights": weights}

    def _records(self, clients, target) -> dict[str, dict]:
        """SetIdentifier -> record set, for the target's record name."""
        what = f"route53_weights {target.api}: {self.label(target)}"
        want = _name(target.record or "")
        out: dict[str, dict] = {}
        kw = {"HostedZoneId": target.zone_id, "StartRecordName": want}
        while True:
            try:
                page = call(clients.settings, clients("route53"), "list_resource_record_sets", what, **kw)
            except ControlError as e:
                if e.aws_code in ("NoSuchHostedZone", "InvalidInput"):
                    raise TargetNotFound(f"{what}: no hosted zone {target.zone_id!r} ({e})") from e
                raise
            for r in page.get("ResourceRecordSets", []):
                if _name(r["Name"]) != want:
                    return out
                if "SetIdentifier" in r:
                    out[r["SetIdentifier"]] = r
            if not page.get("IsTruncated"):
                return out
            kw = {"HostedZoneId": target.zone_id, "StartRecordName": page["NextRecordName"],
                  "StartRecordType": page["NextRecordType"]}
            if page.get("NextRecordIdentifier"):
                kw["StartRecordIdentifier"] = page["NextRecordIdentifier"]

    def _values(self, target, records: dict[str, dict]) -> dict | None:
        by_region = {region: records[sid].get("Weight") for region, sid in (target.set_ids or {}).items()
                     if sid in records}
        return {"weights": by_region} if by_region else None

    def read(self, clients, target, keys):
        records = self._records(clients, target)
        missing = sorted(sid for sid in (target.set_ids or {}).values() if sid not in records)
        if missing:
            raise TargetNotFound(f"route53_weights {target.api}: {self.label(target)} has no weighted record "
                                 f"with set identifier {', '.join(missing)} (found: {', '.join(sorted(records)) or 'none'})")
        return {k: self._values(target, records) for k in keys}

    def request(self, target, key, before, after) -> dict:
        if after is None:
            raise InvalidChange(f"route53_weights {target.api}: weighted records are never deleted, only reweighted")
        return {"operation": "change_resource_record_sets", "HostedZoneId": target.zone_id,
                "weights": {(target.set_ids or {})[r]: int(w) for r, w in after["weights"].items()}}

    def send(self, clients, target, key, request):
        records = self._records(clients, target)
        changes = []
        for sid, w in sorted(request["weights"].items()):
            rr = dict(records[sid])
            rr["Weight"] = w
            changes.append({"Action": "UPSERT", "ResourceRecordSet": rr})
        what = f"route53_weights {target.api}: {self.label(target)}"
        call(clients.settings, clients("route53"), "change_resource_record_sets", what,
             HostedZoneId=request["HostedZoneId"],
             ChangeBatch={"Comment": "forecaster: route weights", "Changes": changes})
        return self._values(target, self._records(clients, target))
