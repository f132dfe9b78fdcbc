// The invoice and payment pages.
