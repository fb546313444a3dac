DROP TABLE validations;
