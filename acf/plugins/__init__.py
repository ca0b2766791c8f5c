"""The plugin layer: hookspecs, the plugin manager, the registry, and the interface of each plugin kind."""
