"""forecaster: forecasting and cost optimization for API gateways."""

__version__ = "0.1.0"
