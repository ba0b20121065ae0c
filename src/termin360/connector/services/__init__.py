"""The connector's work: configuration, feed consumer, outbox and relay, S9 check,
practice actions on online bookings, push-existing, sync rounds."""
