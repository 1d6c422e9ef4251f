"""Qt widgets and their item models. They receive plain data and emit signals; they never open
database sessions or sockets (console/ wires them to the services)."""
