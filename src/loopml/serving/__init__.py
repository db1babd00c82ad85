"""loopml.serving — see ARCHITECTURE.md."""
