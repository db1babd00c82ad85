"""loopml.artifacts — see ARCHITECTURE.md."""
