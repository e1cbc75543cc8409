DROP TABLE disabled_accounts;
DROP TABLE revocations;
