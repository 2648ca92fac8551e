"""Staff and public pages of the shared domain: `core` (workbench, organisations, assistance
cases, needs, referrals, warnings) and the purchase of services, by who uses them."""
