-- Planner costs for data that is read from memory.
--
-- PostgreSQL's default random_page_cost (4) models a spinning disk: a random read costs four
-- sequential ones. Our working set is served from memory (Aurora's buffer cache and its
-- storage layer, PGlite's in-process heap, a local server's page cache), where an index
-- probe costs about as much as reading the next page. With the default, pages of related
-- rows (followers, tags, projects of 500 tasks: `task_gid in (...)`) were planned as full
-- scans of the related table, so a large organization export read those tables once per
-- page (quadratic in the size of the organization). 1.1 is the usual setting for SSD and
-- cached storage; it makes the planner use the primary key for such lookups.
--
-- A database-level setting: it applies to every new session of every role (the Data API's,
-- the migrator's, a restored cluster's: the setting is stored in the database itself, so
-- it travels with snapshots to the recovery region). The `set` applies it to the session
-- running this migration too (PGlite's only session, for one).
do $$
begin
  execute format('alter database %I set random_page_cost = 1.1', current_database());
end
$$;

set random_page_cost = 1.1;
