-- New articles are indexed for full-text search by the store at the end of each commit, in one
-- statement (store::articles::index_new), instead of by a row trigger: FTS5 flushes its pending
-- terms to disk at every statement savepoint of a transaction it has joined, so a trigger made
-- bulk commits write one FTS segment per article. Updates and deletes keep their triggers.
DROP TRIGGER articles_ai;
