"""The catalog of simulated APIs: which gateway, which routes, which regions, at what rates.

Pure data. Rates, latencies and sizes are invented but plausible for a mid-sized shop
(tens of requests per second at peak per route); they are knobs for tests and benchmarks,
not measurements. Route templates use ``{id}`` so that logs without a logged template
(nginx, ALB, Kong, Envoy) are templated back to the same route by the ingest heuristics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Region -> IANA time zone whose local clock shapes the daily and weekly profile.
REGION_TZ = {
    "us-east-1": "America/New_York",
    "us-west-2": "America/Los_Angeles",
    "eu-west-1": "Europe/Dublin",
    "ap-southeast-2": "Australia/Sydney",
}

# The product launch (a new route appears) happens at this instant; events.py lists it.
LAUNCH_AT = "2026-11-17T16:00:00Z"


@dataclass(frozen=True)
class Route:
    method: str                  # HTTP method; 'WS' for WebSocket route keys (as the ingest names them)
    template: str                # '/products/{id}', or a WebSocket route key such as '$connect'
    share: float                 # fraction of the API's requests in steady state
    latency_ms: float            # median response latency when idle
    latency_sigma: float = 0.5   # lognormal sigma of the latency
    bytes_mean: int = 800        # mean response body of a successful request, bytes
    bytes_in_mean: int = 0       # mean request body, bytes
    p_4xx: float = 0.02          # baseline share of 4xx responses
    p_5xx: float = 0.002         # baseline share of 5xx responses
    param: str = "int"           # concrete value of '{id}': 'int' (1..99999) or 'uuid'
    query: str = ""              # query string written by web logs ('{n}' -> a small integer)
    ok_status: int = 200
    available_from: str | None = None   # ISO UTC instant before which the route does not exist

    @property
    def key(self) -> str:
        """The route as the ingest stores it: 'GET /products/{id}', or 'WS $connect'."""
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class Api:
    name: str                    # 'shop'
    api_type: str                # rest | http | websocket | web | alb | kong | envoy
    api_id: str                  # what the gateway logs as the API (AWS apiId, ALB name, service)
    stage: str
    regions: dict[str, float]    # region -> share of the API's traffic
    requests_per_hour: float     # mean over a week, all routes and regions together
    routes: tuple[Route, ...]
    formats: tuple[str, ...]     # log formats this API writes (sample writer names)
    profile: str = "consumer"    # daily/weekly shape: consumer | business | internal
    growth_per_week: float = 0.01
    noise_shape: float = 60.0    # gamma shape of the multiplicative noise (cv = 1/sqrt(shape))
    host: str = "api.example.com"
    extra: dict[str, str] = field(default_factory=dict)

    def route(self, key: str) -> Route:
        for r in self.routes:
            if r.key == key:
                return r
        raise KeyError(f"api {self.name!r} has no route {key!r}; it has {[r.key for r in self.routes]}")


def default_catalog() -> tuple[Api, ...]:
    """Seven APIs behind seven kinds of gateway; 30 (route, region) series in all."""
    return (
        Api("shop", "rest", "s8h0pq2r1a", "prod", {"us-east-1": 0.6, "eu-west-1": 0.4}, 90_000.0, (
            Route("GET", "/products", 0.34, 45, 0.45, 4200, p_4xx=0.01),
            Route("GET", "/products/{id}", 0.38, 30, 0.5, 1800, p_4xx=0.04),
            Route("POST", "/cart/items", 0.13, 60, 0.5, 320, 180, p_4xx=0.05, ok_status=201),
            Route("POST", "/orders", 0.05, 180, 0.6, 640, 900, p_4xx=0.03, p_5xx=0.004, ok_status=201),
            Route("GET", "/orders/{id}", 0.08, 40, 0.5, 950, p_4xx=0.02),
            Route("POST", "/preorders", 0.02, 120, 0.6, 400, 350, p_4xx=0.03, ok_status=201,
                  available_from=LAUNCH_AT),
        ), ("apigw_rest_json", "apigw_rest_clf"), host="shop.example.com"),
        Api("pets", "http", "p3t5hx9k2m", "prod", {"us-east-1": 0.55, "ap-southeast-2": 0.45}, 20_000.0, (
            Route("GET", "/pets", 0.45, 25, 0.4, 2600),
            Route("GET", "/pets/{id}", 0.45, 18, 0.45, 700, p_4xx=0.05),
            Route("POST", "/pets", 0.10, 70, 0.5, 300, 420, p_4xx=0.06, ok_status=201),
        ), ("apigw_http",), host="pets.example.com"),
        Api("chat", "websocket", "c4w7ws1z0n", "prod", {"eu-west-1": 1.0}, 12_000.0, (
            Route("WS", "$connect", 0.12, 35, 0.4, 0, p_4xx=0.03),
            Route("WS", "$disconnect", 0.12, 8, 0.3, 0, p_4xx=0.0, p_5xx=0.0005),
            Route("WS", "sendMessage", 0.76, 22, 0.5, 180, 160, p_4xx=0.01),
        ), ("apigw_websocket",), host="chat.example.com"),
        Api("web", "web", "www", "default", {"us-east-1": 1.0}, 30_000.0, (
            Route("GET", "/", 0.30, 12, 0.4, 18_000, p_4xx=0.002),
            Route("GET", "/blog/{id}", 0.50, 20, 0.5, 24_000, p_4xx=0.03, query="ref=home"),
            Route("GET", "/search", 0.20, 80, 0.6, 9_000, p_4xx=0.01, query="q=shoes&page={n}"),
        ), ("combined", "clf"), host="www.example.com"),
        Api("edge", "alb", "app/edge-alb/50dc6c495c0c9188", "default", {"us-east-1": 1.0}, 25_000.0, (
            Route("GET", "/api/v1/items/{id}", 0.8, 28, 0.5, 1400, param="uuid", p_4xx=0.03),
            Route("POST", "/api/v1/checkout", 0.2, 150, 0.6, 500, 1200, p_4xx=0.02, p_5xx=0.003),
        ), ("alb",), host="edge.example.com"),
        Api("payments", "kong", "payments", "default", {"us-east-1": 1.0}, 8_000.0, (
            Route("POST", "/v1/charges", 0.4, 220, 0.5, 700, 600, p_4xx=0.04, p_5xx=0.003, ok_status=201),
            Route("GET", "/v1/charges/{id}", 0.6, 35, 0.45, 900, p_4xx=0.02),
        ), ("kong",), profile="business", host="payments.internal"),
        Api("mesh", "envoy", "locations", "default", {"us-east-1": 1.0}, 40_000.0, (
            Route("POST", "/api/v1/locations", 0.35, 15, 0.5, 0, 154, p_4xx=0.01, ok_status=204),
            Route("GET", "/api/v1/locations/{id}", 0.65, 6, 0.4, 420, p_4xx=0.01),
        ), ("envoy",), profile="internal", noise_shape=120.0, host="locations"),
    )
