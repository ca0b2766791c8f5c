"""One measuring session: model resolution, the spec, plugin selection, pre-flight, cost prediction and `Session`."""
