DROP TABLE seen_domains;
DROP INDEX draft_verdicts_verdict;
DROP TABLE draft_verdicts;
