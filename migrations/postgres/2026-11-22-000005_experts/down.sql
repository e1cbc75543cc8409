DROP TABLE expert_blocked_days;
DROP TABLE expert_windows;
DROP TABLE expert_languages;
DROP TABLE expert_tags;
DROP TABLE expert_profiles;
