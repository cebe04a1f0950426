-- One database per service: services never read each other's tables, so each
-- owns a database of its own (they may share the server).  Runs once, when the
-- PostgreSQL container initialises an empty data volume.
CREATE DATABASE matching;
CREATE DATABASE relationships;
CREATE DATABASE notifier;
