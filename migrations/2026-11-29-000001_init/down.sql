DROP TABLE service_settings;
DROP TABLE scenes;
DROP TABLE leads_task_list;
DROP TABLE call_tasks;
DROP TABLE dcc_leads;
DROP TABLE users;
DROP TABLE organizations;
