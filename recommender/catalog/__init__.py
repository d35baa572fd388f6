"""The films: a catalog read and checked (JSON Lines or CSV), their titles resolved."""
