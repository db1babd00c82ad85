"""loopml.components — see ARCHITECTURE.md."""
