ALTER TABLE tickets DROP COLUMN return_status;
DROP TABLE return_lines;
DROP TABLE ticket_ratings;
