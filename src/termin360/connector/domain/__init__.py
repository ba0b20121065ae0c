"""Pure rules of the connector (placement, matching, busy time): no Django."""
