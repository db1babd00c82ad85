"""loopml.data — see ARCHITECTURE.md."""
