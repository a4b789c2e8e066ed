DROP TABLE subscriptions;
DROP TABLE subscription_protocols;
