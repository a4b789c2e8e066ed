DROP TABLE campaign_keys;
DROP TABLE campaign_drafts;
DROP TABLE campaigns;
