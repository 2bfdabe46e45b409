//! Configuration. The gateway reads LiteLLM's proxy `config.yaml`; this
//! module holds Switchyard's own `plugins:` section.

pub mod plugins;

pub use plugins::PluginsSection;
