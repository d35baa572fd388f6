"""What viewers did and what they should watch: events, profiles, the collaborative model."""
