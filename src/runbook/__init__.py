"""runbook: incident-response automation for web-application fleets, built on Ansible."""

__version__ = "0.1.0"
