DROP INDEX products_listing;
