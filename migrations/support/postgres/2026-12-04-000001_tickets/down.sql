DROP TABLE inbox;
DROP TABLE outbox_relay_lease;
DROP TABLE outbox_deliveries;
DROP TABLE outbox;
DROP TABLE ticket_messages;
DROP TABLE tickets;
