DROP TABLE setup_claim;
