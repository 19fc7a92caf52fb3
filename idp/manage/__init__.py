"""Admin services shared by the console, the JSON API and the CLI: clients, users, audit log.

Each function validates its input, changes the database in one transaction and records an
audit event naming the actor; the three surfaces only parse and present.
"""
