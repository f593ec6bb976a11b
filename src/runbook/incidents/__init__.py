"""Incidents: priorities and deadlines, status, escalation, the timeline, communication."""
