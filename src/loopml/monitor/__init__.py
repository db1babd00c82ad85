"""loopml.monitor — see ARCHITECTURE.md."""
