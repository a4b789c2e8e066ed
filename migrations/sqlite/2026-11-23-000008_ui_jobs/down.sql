DROP TABLE ui_jobs;
