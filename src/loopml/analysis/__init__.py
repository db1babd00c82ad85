"""loopml.analysis — see ARCHITECTURE.md."""
