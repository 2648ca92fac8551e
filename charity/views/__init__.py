"""Staff pages of funds, donations and disbursements, by aggregate."""
