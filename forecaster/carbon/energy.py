"""Energy (kWh) of compute, memory and network, CCF methodology; and emissions from energy.

All functions are linear and work on floats or numpy arrays. Every kWh returned already
includes the data-centre PUE, so component energies add up to the facility energy.
"""

from __future__ import annotations

import numpy as np

from .coefficients import Coefficients

MS_PER_HOUR = 3_600_000.0
BYTES_PER_GB = float(1024 ** 3)


def compute_kwh(vcpu_hours, c: Coefficients):
    """vCPU-hours x (min W + utilisation x (max W - min W)) / 1000 x PUE."""
    return np.asarray(vcpu_hours, dtype=float) * c.watts_per_vcpu / 1000.0 * c.pue


def memory_kwh(gb_hours, c: Coefficients):
    """GB-hours x kWh per GB-hour x PUE."""
    return np.asarray(gb_hours, dtype=float) * c.memory_kwh_per_gb_hour * c.pue


def network_kwh(bytes_out, c: Coefficients):
    """GB out x kWh per GB x PUE."""
    return np.asarray(bytes_out, dtype=float) / BYTES_PER_GB * c.network_kwh_per_gb * c.pue


def lambda_vcpu_hours(billed_ms, memory_mb, c: Coefficients):
    """Billed duration x Lambda's vCPU share of memory (vCPUs = MB / 1792)."""
    return np.asarray(billed_ms, dtype=float) / MS_PER_HOUR * (np.asarray(memory_mb, dtype=float) / c.lambda_mb_per_vcpu)


def lambda_gb_hours(billed_ms, memory_mb):
    return np.asarray(billed_ms, dtype=float) / MS_PER_HOUR * (np.asarray(memory_mb, dtype=float) / 1024.0)


def gateway_vcpu_hours(requests, c: Coefficients):
    """The documented per-request CPU assumption for a gateway with no duration of its own."""
    return np.asarray(requests, dtype=float) * c.gateway_cpu_ms_per_request / MS_PER_HOUR


def embodied_g(vcpu_hours, c: Coefficients):
    """Embodied emissions share of the hardware time used (CCF: TE x TR/EL x RR/TR)."""
    return np.asarray(vcpu_hours, dtype=float) * c.embodied_g_per_vcpu_hour


def emissions_g(kwh, g_per_kwh):
    """Operational emissions: energy x grid intensity."""
    return np.asarray(kwh, dtype=float) * np.asarray(g_per_kwh, dtype=float)


def sci_g_per_request(energy_kwh: float, intensity_g_per_kwh: float, embodied: float, requests: float) -> float:
    """Software Carbon Intensity (Green Software Foundation): (E x I + M) per R, R = one request."""
    if requests <= 0:
        return float("nan")
    return (energy_kwh * intensity_g_per_kwh + embodied) / requests
