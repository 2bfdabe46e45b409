//! OpenTelemetry traces over OTLP. Placeholder: the traces helper fills it.
