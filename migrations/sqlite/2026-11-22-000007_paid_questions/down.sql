DROP TABLE question_unlocks;
DROP TABLE paid_questions;
DROP TABLE expert_question_prices;
