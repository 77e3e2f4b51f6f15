-- Case list indexes, measured against intake throughput: the street and district indexes put
-- each new case at a random position in two more B-trees (more WAL pages per commit) and no
-- query used them (territory filters match community-code prefixes). Lists by territory use
-- the community code.
DROP INDEX case_file_street;
DROP INDEX case_file_district;
CREATE INDEX case_file_community ON case_file (community_code);
