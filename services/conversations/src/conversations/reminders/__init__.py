"""Reminders and confirmations after a booking: settings, the booking projection, durable
jobs and the scheduler that sends them through the delivery path."""
