-- Territory lists by district, then newest first. The community index put each new case at a
-- random position among the city's thousands of communities: about one more B-tree page written
-- per report (24 % of the WAL pages of an intake commit, measured). Keyed by district first, new
-- cases append at the end of one of a city's few districts' runs, and a list of a district reads
-- its newest cases in index order; the community code rides along, so lists of a street or a
-- community are filtered on the index without reading the rows they skip.
DROP INDEX case_file_community;
CREATE INDEX case_file_district_recent ON case_file (district_code, id, community_code);
