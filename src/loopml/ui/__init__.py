"""loopml.ui — see ARCHITECTURE.md."""
